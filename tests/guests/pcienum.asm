; PCI from a guest's point of view: the PCI BIOS installation check (int 1Ah AX=B101h),
; then configuration mechanism #1 directly: for every device/function on bus 0 whose
; vendor word is not FFFFh, its address, ID dword and class/revision dword; finally the
; raw dword at CFCh with 00:00.0 selected.  On the screen and COM1:
;   BIOS <edx> <ax> <bx> <cx>     or   NOBIOS <ax>
;   @<address> <device:vendor> <class:revision>     (one line per function)
;   CFC <dword>
;   DONE
%include "common.inc"
        BOOT_START
        mov ax, 0xb101
        xor edx, edx
        int 0x1a
        jc .nobios
        push cx
        push bx
        push ax
        mov ebp, edx            ; print_si and putc clobber DX
        mov si, bios
        call print_si
        mov eax, ebp
        call hex32sp
        pop ax
        call hex16sp
        pop ax
        call hex16sp
        pop ax
        call hex16sp
        jmp .scan
.nobios:
        push ax
        mov si, nobios
        call print_si
        pop ax
        call hex16sp
.scan:  call crlf
        mov ebp, 0x80000000
.next:  mov eax, ebp
        call cfg_read
        cmp ax, 0xffff
        je .skip
        push eax
        mov al, '@'
        call putc
        mov eax, ebp
        call hex32
        pop eax
        call hex32sp
        lea eax, [ebp + 8]
        call cfg_read
        call hex32sp
        call crlf
.skip:  add ebp, 0x100
        cmp ebp, 0x80010000
        jne .next
        mov si, cfc
        call print_si
        mov eax, 0x80000000
        call cfg_read
        call hex32sp
        call crlf
        mov si, done
        call print_si
        cli
        hlt
; cfg_read: EAX = the configuration dword at the mechanism #1 address in EAX
cfg_read:
        mov dx, 0xcf8
        out dx, eax
        mov dx, 0xcfc
        in eax, dx
        ret
hex16sp:
        shl eax, 16
        mov cx, 2
        jmp hexsp
hex32sp:
        mov cx, 4
hexsp:  push eax
        mov al, ' '
        call putc
        pop eax
        jmp hexn
hex32:  mov cx, 4
hexn:   rol eax, 8
        push eax
        push cx
        call hex8
        pop cx
        pop eax
        loop hexn
        ret
crlf:   mov si, eol
        jmp print_si
        HEX_HELPERS
        PRINT_HELPERS
bios:   db "BIOS", 0
nobios: db "NOBIOS", 0
cfc:    db "CFC", 0
done:   db "DONE"
eol:    db 13, 10, 0
        BOOT_END
