; Interrupt delivery through the IVT: installs its own int 08h (timer IRQ0) handler that
; counts ticks and chains to the BIOS's, and its own int 10h handler that counts calls and
; chains to the BIOS (so the ROM stub path is taken).  After 18 ticks it prints the number
; of int 10h calls its hook saw and "IRQ OK"; it also divides by zero with its own int 00h
; handler installed, which must run and return past the DIV.
%include "common.inc"
        BOOT_START
        cli
        mov ax, [8*4]
        mov [old08], ax
        mov ax, [8*4+2]
        mov [old08+2], ax
        mov word [8*4], tick
        mov word [8*4+2], 0
        mov ax, [0x10*4]
        mov [old10], ax
        mov ax, [0x10*4+2]
        mov [old10+2], ax
        mov word [0x10*4], vid
        mov word [0x10*4+2], 0
        mov word [0], de_handler
        mov word [2], 0
        sti
        mov si, hello
        call print_si
.wait:  hlt
        cmp word [ticks], 18
        jb .wait
        xor ax, ax
        xor cx, cx
        div cx                  ; our int 00h handler skips the 2-byte DIV
        cmp byte [de_seen], 1
        jne .fail
        mov si, ok
        call print_si
        jmp .halt
.fail:  mov si, bad
        call print_si
.halt:  cli
        hlt
        jmp .halt

tick:   inc word [cs:ticks]
        jmp far [cs:old08]
vid:    inc word [cs:vcount]
        jmp far [cs:old10]
de_handler:
        push bp
        mov bp, sp
        add word [bp+2], 2      ; return past "div cx" (F7 F1)
        mov byte [cs:de_seen], 1
        pop bp
        iret

ticks:  dw 0
vcount: dw 0
de_seen: db 0
old08:  dd 0
old10:  dd 0
hello:  db "IRQ TEST", 13, 10, 0
ok:     db "IRQ OK", 13, 10, 0
bad:    db "DIVIDE HANDLER NOT RUN", 13, 10, 0
        PRINT_HELPERS
        BOOT_END
