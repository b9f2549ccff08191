; The IRQ window: an IRQ raised while IF=0 is taken as soon as the guest sets IF again,
; not at some later timer deadline.  The PIT runs one-shot (mode 0), so each case has
; exactly one IRQ and nothing else would ever stop the CPU for it.
; 1. cli, the IRQ arrives (seen in the PIC's IRR), sti, a counting loop: the handler
;    records the count at delivery; it prints as "W00" (taken at once) or "W01" (after
;    the one instruction of STI's interrupt shadow, as a real CPU does).
; 2. cli, the IRQ arrives, `sti; hlt` (how idle loops wait): the HLT must wake at once and
;    return past itself; taken before the HLT the IRQ would return onto it and the CPU
;    would sleep for ever.  Prints "HLT OK".
%include "common.inc"
        BOOT_START
        cli
        mov word [8*4], tick
        mov word [8*4+2], 0
        mov al, 0xfe                    ; only IRQ 0
        out 0x21, al
        call oneshot
        xor ebx, ebx
        sti
.spin:  inc ebx
        cmp byte [hits], 1
        jb .spin
        mov al, 'W'
        call putc
        mov al, [seen]
        call hex8
        cli
        call oneshot
        sti
        hlt
        mov si, done
        call print_si
.stop:  cli
        hlt
        jmp .stop

; PIT counter 0 in mode 0 (interrupt on terminal count) for 100 ticks (~84 us); returns
; with IF still clear once the PIC holds the request.
oneshot:
        mov al, 0x30
        out 0x43, al
        mov al, 100
        out 0x40, al
        xor al, al
        out 0x40, al
.poll:  mov al, 0x0a                    ; OCW3: read the IRR
        out 0x20, al
        in al, 0x20
        test al, 1
        jz .poll
        ret

tick:   mov [seen], bl
        inc byte [hits]
        push ax
        mov al, 0x20
        out 0x20, al
        pop ax
        iret

        PRINT_HELPERS
        HEX_HELPERS
done:   db " HLT OK", 0
hits:   db 0
seen:   db 0
        BOOT_END
