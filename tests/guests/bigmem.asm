; The top of a 2 GB machine holds what the guest puts there: a 512-byte pattern goes to the
; first and the last 512 bytes of the last megabyte (7FF00000h and 7FFFFE00h) by int 15h
; AH=87h block moves, comes back into a cleared buffer and is compared.  Prints "TOP OK"
; (or "FAIL xx" with AH of the failed move, "BAD" for other bytes) on screen and COM1,
; then waits for a key and checks again: a test can save the machine's state in between
; and restore it into a fresh machine before pressing the key.
%include "common.inc"
TOP     equ 0x7FFFFE00
TOP_MB  equ 0x7FF00000
PATTERN equ 0x8000
BUFFER  equ 0x9000
        BOOT_START
        mov di, PATTERN         ; byte i of the pattern: i xor 5Ah
        xor cx, cx
.fill:  mov al, cl
        xor al, 0x5a
        stosb
        inc cx
        cmp cx, 512
        jb .fill
        mov ebx, TOP
        call up
        mov ebx, TOP_MB
        call up
check:  mov eax, TOP
        call back_and_compare
        mov eax, TOP_MB
        call back_and_compare
        mov si, okmsg
        call print_si
        xor ah, ah              ; wait for a key, then look again
        int 0x16
        jmp check

up:     mov eax, PATTERN        ; PATTERN -> EBX
        call move
        ret

back_and_compare:               ; EAX -> BUFFER (cleared first), then BUFFER == PATTERN?
        push eax
        mov di, BUFFER
        mov cx, 512
        xor al, al
        rep stosb
        pop eax
        mov ebx, BUFFER
        call move
        mov si, PATTERN
        mov di, BUFFER
        mov cx, 512
        repe cmpsb
        jne bad
        ret

move:   mov [gdt + 0x12], ax    ; source base 15..0, 23..16, 31..24
        shr eax, 16
        mov [gdt + 0x14], al
        mov [gdt + 0x17], ah
        mov [gdt + 0x1a], bx    ; destination base
        shr ebx, 16
        mov [gdt + 0x1c], bl
        mov [gdt + 0x1f], bh
        mov si, gdt
        mov cx, 256             ; words
        mov ah, 0x87
        int 0x15
        jc fail
        ret

fail:   push ax
        mov si, failmsg
        call print_si
        pop ax
        mov al, ah
        call hex8
        jmp halt
bad:    mov si, badmsg
        call print_si
halt:   cli
        hlt
        jmp halt

        HEX_HELPERS
        PRINT_HELPERS
okmsg:  db "TOP OK", 13, 10, 0
failmsg: db "FAIL ", 0
badmsg: db "BAD", 0
gdt:    times 16 db 0           ; null, GDT alias (the BIOS's)
        dw 0xffff, 0            ; source: limit, base 15..0
        db 0, 0x93, 0, 0        ;   base 23..16, access, limit/flags, base 31..24
        dw 0xffff, 0            ; destination
        db 0, 0x93, 0, 0
        times 16 db 0           ; BIOS code and stack
        BOOT_END
