; SYSLINUX-style keyboard polling: with interrupts disabled (cli), call int 16h as
; `pushf; call far [0:16h*4]` (never an `int` instruction) with AH=01h until a key is
; there, then read it with AH=00h the same way and print it as "<scan hex><ascii hex> " on
; screen and COM1.  A real BIOS runs its services with interrupts enabled, so the key's
; IRQ1 is taken inside the call.  After each call it checks that IF is still clear (the
; service must return the caller's flags) and prints "IF!" if it is not.  Between polls it
; spins a few hundred blocks, so the BIOS does not take it for an idle key-poll loop.
%include "common.inc"
        BOOT_START
        mov si, ready
        call print_si
        cli
.poll:  mov cx, 300             ; other work between polls (SYSLINUX checks its timeout
.work:  loop .work              ; and the serial port): not a tight, idle-looking poll
        mov ah, 0x01
        pushf
        call far [0x16*4]
        call if_check
        jz .poll
        xor ah, ah
        pushf
        call far [0x16*4]
        call if_check
        push ax
        mov al, ah
        call hex8
        pop ax
        call hex8
        mov al, ' '
        call putc
        cli
        jmp .poll
if_check:
        pushf
        push ax
        pushf
        pop ax
        test ah, 0x02
        jz .ok
        mov si, iferr
        call print_si
        cli
.ok:    pop ax
        popf
        ret
        HEX_HELPERS
ready:  db "READY", 13, 10, 0
iferr:  db "IF!", 0
        PRINT_HELPERS
        BOOT_END
