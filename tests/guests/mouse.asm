; PS/2 mouse through the BIOS: initialises the pointing device (int 15h C205h, packet
; size 3), installs a far callback (C207h), enables it (C200h BH=1) and prints "MOUSE
; READY"; then prints each packet the int 74h handler hands to the callback as
; "<status> <X> <Y>" in hex, one per line, on screen and COM1.  On an error it prints
; "ERR <function> <AH>" and halts.
%include "common.inc"
        BOOT_START
        mov ax, 0xc205
        mov bh, 3
        int 0x15
        jc fail
        mov ax, 0xc207
        mov bx, callback
        int 0x15                ; ES:BX = 0000:callback
        jc fail
        mov ax, 0xc200
        mov bh, 1
        int 0x15
        jc fail
        mov si, ready
        call print_si
idle:   hlt
        jmp idle

fail:   push ax
        mov si, error
        call print_si
        pop ax
        push ax
        call hex8               ; AL: the function that failed
        mov al, ' '
        call putc
        pop ax
        mov al, ah
        call hex8               ; AH: the status
stop:   hlt
        jmp stop

; Far callback: [bp+12] status, [bp+10] X, [bp+8] Y, [bp+6] Z (words)
callback:
        push bp
        mov bp, sp
        pusha
        mov al, [bp+12]
        call hex8
        mov al, ' '
        call putc
        mov al, [bp+10]
        call hex8
        mov al, ' '
        call putc
        mov al, [bp+8]
        call hex8
        mov al, 13
        call putc
        mov al, 10
        call putc
        popa
        pop bp
        retf

        HEX_HELPERS
ready:  db "MOUSE READY", 13, 10, 0
error:  db "ERR ", 0
        PRINT_HELPERS
        BOOT_END
