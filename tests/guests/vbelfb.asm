; VBE linear framebuffer: asks for the controller information (4F00h, "VBE2"), sets mode
; 142h (640x480, 32 bpp) with the linear framebuffer bit, enters unreal mode (FS with a
; flat 4 GiB limit) to reach the framebuffer at the PhysBasePtr that 4F01h reports, and
; draws ten vertical bars of 64 pixels in known colours with a white diagonal (x = y,
; checks BytesPerScanLine).  Then "VBE32 OK" on COM1; after a key, the same picture in
; mode 111h (640x480, 16 bpp 5:6:5) and "VBE16 OK".  "VBE FAIL" on COM1 if a call fails.
; Nothing goes through int 10h teletype: the screen holds only what is drawn here.
%include "common.inc"
        BOOT_START
        mov di, 0x8000
        mov dword [di], 'VBE2'
        mov ax, 0x4f00
        int 0x10
        cmp ax, 0x004f
        jne fail
        cmp dword [di], 'VESA'
        jne fail
        call unreal
        mov cx, 0x142
        mov si, table32
        call show
        mov si, ok32
        call serial
        xor ax, ax
        int 0x16
        mov cx, 0x111
        mov si, table16
        call show
        mov si, ok16
        call serial
idle:   hlt
        jmp idle

; show: mode CX with the bar colours at SI (4 or 2 bytes each, per the mode's depth)
show:   push si
        mov di, 0x8200
        mov ax, 0x4f01
        int 0x10
        cmp ax, 0x004f
        jne fail
        mov bx, cx
        or bx, 0x4000           ; linear framebuffer
        mov ax, 0x4f02
        int 0x10
        cmp ax, 0x004f
        jne fail
        pop si
        movzx ebp, byte [0x8219] ; BitsPerPixel
        add bp, 7
        shr bp, 3               ; bytes per pixel
        mov edi, [0x8228]       ; PhysBasePtr
        xor dx, dx              ; y
.row:   push edi
        xor cx, cx              ; x
.px:    mov bx, cx
        shr bx, 6               ; bar 0-9
        imul bx, bp
        mov eax, [si + bx]
        cmp cx, dx
        jne .put
        or eax, -1              ; the diagonal: white at any depth
.put:   cmp bp, 4
        jne .word
        mov [fs:edi], eax
        jmp .next
.word:  mov [fs:edi], ax
.next:  add edi, ebp
        inc cx
        cmp cx, 640
        jb .px
        pop edi
        movzx eax, word [0x8210] ; BytesPerScanLine
        add edi, eax
        inc dx
        cmp dx, 480
        jb .row
        ret

; unreal mode: FS keeps a flat 4 GiB descriptor after the return to real mode
unreal: cli
        lgdt [gdtr]
        mov eax, cr0
        or al, 1
        mov cr0, eax
        mov bx, 8
        mov fs, bx
        and al, 0xfe
        mov cr0, eax
        sti
        ret

fail:   mov si, bad
        call serial
        jmp idle

serial: lodsb
        test al, al
        jz .done
        mov dx, 0x3f8
        out dx, al
        jmp serial
.done:  ret

gdtr:   dw 15
        dd gdt
gdt:    dq 0
        dq 0x00cf92000000ffff   ; data, base 0, limit 4 GiB

table32: dd 0x000000, 0xff0000, 0x00ff00, 0x0000ff, 0xffffff
         dd 0x123456, 0x808080, 0xff8000, 0x00ffff, 0x400020
table16: dw 0x0000, 0xf800, 0x07e0, 0x001f, 0xffff
         dw 0x11aa, 0x8410, 0xfc00, 0x07ff, 0x4004
ok32:   db "VBE32 OK", 13, 10, 0
ok16:   db "VBE16 OK", 13, 10, 0
bad:    db "VBE FAIL", 13, 10, 0
        BOOT_END
