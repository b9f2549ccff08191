; Keyboard echo: prints "READY", then echoes each key read through int 16h AH=00h as
; "<scan hex><ascii hex> " on screen and COM1.  Used to check the keyboard path end to end.
%include "common.inc"
        BOOT_START
        mov si, ready
        call print_si
.loop:  xor ah, ah
        int 0x16
        push ax
        mov al, ah
        call hex8
        pop ax
        call hex8
        mov al, ' '
        call putc
        jmp .loop
hex8:   push ax
        shr al, 4
        call nib
        pop ax
        and al, 0x0f
nib:    add al, '0'
        cmp al, '9'
        jbe putc
        add al, 7
putc:   mov ah, 0x0e
        mov bx, 0x0007
        int 0x10
        mov dx, 0x3f8
        out dx, al
        ret
ready:  db "READY", 13, 10, 0
        PRINT_HELPERS
        BOOT_END
