; Mode 13h colour bars that never stop moving: sets 320x200x256 through int 10h AX=0013h,
; then redraws the whole screen once per timer tick (IRQ0, ~18.2 Hz; HLT in between, so
; the VM idles between frames), each frame shifted by one colour.  Used by the manager
; soak (tools/soak): a console that must render a changed 64,000-byte frame continuously.
%include "common.inc"
        BOOT_START
        mov ax, 0x0013
        int 0x10
        mov ax, 0xa000
        mov es, ax
        cld
        xor bp, bp              ; phase: advances one colour per frame
frame:  xor di, di
        xor dx, dx              ; y
.row:   mov bx, dx
        shr bx, 3
        add bx, bp              ; bl = y/8 + phase
        xor cx, cx              ; x
.col:   mov ax, cx
        shr ax, 3
        add al, bl              ; colour = x/8 + y/8 + phase: diagonal bars
        stosb
        inc cx
        cmp cx, 320
        jb .col
        inc dx
        cmp dx, 200
        jb .row
        inc bp
        hlt                     ; until the next timer tick
        jmp frame
        BOOT_END
