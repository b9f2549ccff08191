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
        HEX_HELPERS
ready:  db "READY", 13, 10, 0
        PRINT_HELPERS
        BOOT_END
