; VBE banked access: mode 101h (640x480, 8 bpp) without the linear framebuffer bit, its
; 307,200 bytes written through the 64 KiB window at A0000h, five banks: the even ones
; chosen with int 10h AX=4F05h, the odd ones with a far call to the window function whose
; address 4F01h reports (WinFuncPtr).  Byte n of the screen gets colour (n >> 10) & FFh:
; bands of 1.6 lines through the standard palette.  Then "BANK OK" on COM1.
%include "common.inc"
        BOOT_START
        mov di, 0x8200
        mov cx, 0x101
        mov ax, 0x4f01
        int 0x10
        cmp ax, 0x004f
        jne fail
        mov bx, 0x0101
        mov ax, 0x4f02
        int 0x10
        cmp ax, 0x004f
        jne fail
        push 0xa000
        pop es
        cld
        xor bp, bp              ; bank
.bank:  xor bx, bx              ; BH=0 set, BL=0 window A
        mov dx, bp
        test bp, 1
        jnz .func
        mov ax, 0x4f05
        int 0x10
        cmp ax, 0x004f
        jne fail
        jmp .fill
.func:  call far [0x820c]       ; WinFuncPtr
.fill:  xor di, di
        mov cx, bp
        shl cx, 6               ; bank * 64: (bank * 65536) >> 10
.byte:  mov ax, di
        shr ax, 10
        add ax, cx
        stosb
        test di, di
        jnz .byte               ; until DI wraps: 64 KiB
        inc bp
        cmp bp, 5
        jb .bank
        mov si, ok
        jmp out
fail:   mov si, bad
out:    lodsb
        test al, al
        jz idle
        mov dx, 0x3f8
        out dx, al
        jmp out
idle:   hlt
        jmp idle
ok:     db "BANK OK", 13, 10, 0
bad:    db "BANK FAIL", 13, 10, 0
        BOOT_END
