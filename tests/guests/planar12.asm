; Mode 12h (640x480, 16 colours, planar) drawn with the VGA's own write logic, one band of
; 60 lines per feature, each band 16 stripes of 40 pixels (stripe c uses colour c):
;   0  map mask: planes c get FFh, the others keep the zeros of the mode set
;   1  set/reset (enable 0Fh, value c) through bit mask AAh: every other pixel
;   2  write mode 2 (CPU data = colour c) through bit mask 0Fh: the right 4 pixels
;   3  write mode 3: set/reset c, CPU data F0h rotated right by 2 = 3Ch as the bit mask
;   4  write mode 1: band 0 copied through the latches
;   5  band 0 copied, then set/reset 0Fh XORed (function 3) through bit mask F0h
;   6  read mode 1: band 0 compared with colour 5 (don't care 0Fh), written as data
;   7  read mode 0: plane 2 of band 0 (read map select 2), written to planes 0 and 1
; Each byte of a band is read first (latches = its old contents).  Then "PLANAR OK" on COM1.
%include "common.inc"
        BOOT_START
        mov ax, 0x0012
        int 0x10
        push 0xa000
        pop es
        xor bp, bp              ; the band's first byte
        mov bx, bands
.next:  mov ax, [bx]
        test ax, ax
        jz .done
        push bx
        call band
        pop bx
        add bp, [bx + 2]        ; 4800, or 0 to draw on the same band again
        add bx, 4
        jmp .next
.done:  mov si, done
.out:   lodsb
        test al, al
        jz idle
        mov dx, 0x3f8
        out dx, al
        jmp .out
idle:   hlt
        jmp idle

bands:  dw band0, 4800, band1, 4800, band2, 4800, band3, 4800, band4, 4800
        dw band4, 0, band5, 4800, band6, 4800, band7, 4800, 0

; band: call AX once per byte of the 60 lines from BP on (DI = the byte, CL = its stripe's
; colour, SI = the same byte in band 0, latches loaded from DI); then default registers
band:   mov bx, ax
        mov di, bp
.byte:  mov ax, di
        sub ax, bp
        xor dx, dx
        mov si, 80
        div si                  ; DX = byte within the line
        mov ax, dx
        mov cl, 5
        div cl
        mov cl, al              ; stripe colour
        mov si, di
        sub si, bp
        mov al, [es:di]         ; load the latches
        call bx
        inc di
        lea ax, [bp + 4800]
        cmp di, ax
        jb .byte
        mov ax, 0xff08          ; bit mask FFh
        call gc
        mov ax, 0x0005          ; write mode 0, read mode 0
        call gc
        mov ax, 0x0003          ; no rotate, replace
        call gc
        mov ax, 0x0001          ; set/reset disabled
        call gc
        mov ax, 0x0004          ; read map 0
        call gc
        mov ax, 0x0f02          ; map mask: all planes
        jmp seq

gc:     mov dx, 0x3ce
        out dx, ax
        ret
seq:    mov dx, 0x3c4
        out dx, ax
        ret

band0:  mov ah, cl
        mov al, 2
        call seq                ; map mask = colour
        mov byte [es:di], 0xff
        ret
band1:  mov ax, 0x0f01
        call gc
        mov ah, cl
        mov al, 0
        call gc
        mov ax, 0xaa08
        call gc
        mov [es:di], al
        ret
band2:  mov ax, 0x0205
        call gc
        mov ax, 0x0f08
        call gc
        mov [es:di], cl
        ret
band3:  mov ax, 0x0305
        call gc
        mov ah, cl
        mov al, 0
        call gc
        mov ax, 0x0203          ; rotate right by 2
        call gc
        mov byte [es:di], 0xf0
        ret
band4:  mov ax, 0x0105          ; write mode 1
        call gc
        mov al, [es:si]
        mov [es:di], al
        ret
band5:  mov ax, 0x0f01
        call gc
        mov ax, 0x0f00
        call gc
        mov ax, 0x1803          ; XOR
        call gc
        mov ax, 0xf008
        call gc
        mov [es:di], al
        ret
band6:  mov ax, 0x0805          ; read mode 1
        call gc
        mov ax, 0x0502          ; colour compare 5
        call gc
        mov ax, 0x0f07          ; colour don't care: all planes
        call gc
        mov al, [es:si]
        mov ah, al
        mov al, 0x05
        push ax
        mov ax, 0x0005
        call gc                 ; back to write mode 0 for the store
        pop ax
        mov [es:di], ah
        ret
band7:  mov ax, 0x0204          ; read map select: plane 2
        call gc
        mov al, [es:si]
        push ax
        mov ax, 0x0302          ; map mask: planes 0 and 1
        call seq
        pop ax
        mov [es:di], al
        ret

done:   db "PLANAR OK", 13, 10, 0
        BOOT_END
