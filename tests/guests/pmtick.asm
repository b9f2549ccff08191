; A protected-mode guest that stays there: paging on, a ring 3 loop, and an IRQ0 handler
; (ring 0, reached through the TSS stack) that counts ticks and writes the count in hex
; at the top left of the text screen ("TICKS 0000001A").  For saved states: a state taken
; at any moment holds ring 3, paging and the handler's stack; after a restore the count
; must go on from where it was.
%include "common.inc"
        PM_FLAT_START
        mov edi, 0x20000                ; page table: identity map 4 MB, all user pages
        mov eax, 0x7
        mov ecx, 1024
.pt:    stosd
        add eax, 0x1000
        loop .pt
        mov dword [0x21000], 0x20007    ; page directory at 21000h
        mov eax, 0x21000
        mov cr3, eax
        mov eax, cr0
        or eax, 0x80000000
        mov cr0, eax
        mov eax, irq0                   ; IDT at 10000h: vector 20h only
        mov [0x10000 + 0x20 * 8], ax
        mov word [0x10000 + 0x20 * 8 + 2], 0x08
        mov word [0x10000 + 0x20 * 8 + 4], 0x8e00
        shr eax, 16
        mov [0x10000 + 0x20 * 8 + 6], ax
        lidt [idtr]
        mov dword [tss + 4], 0x80000    ; ESP0
        mov dword [tss + 8], 0x10       ; SS0
        mov ax, 0x28
        ltr ax
        mov al, 0x11                    ; PIC: IRQ0 -> vector 20h, only IRQ0
        out 0x20, al
        mov al, 0x20
        out 0x21, al
        mov al, 4
        out 0x21, al
        mov al, 1
        out 0x21, al
        mov al, 0xfe
        out 0x21, al
        push dword 0x23
        push dword 0x70000
        push dword 0x202
        push dword 0x1b
        push dword user
        iretd
user:   inc ebx                         ; registers only: a store per loop is slow to emulate
        jmp user

irq0:   pushad
        inc dword [ticks]
        mov edi, 0xb8000
        mov esi, label
.l:     lodsb
        test al, al
        jz .n
        mov ah, 0x07
        stosw
        jmp .l
.n:     mov edx, [ticks]
        mov ecx, 8
.d:     rol edx, 4
        mov al, dl
        and al, 0x0f
        add al, '0'
        cmp al, '9'
        jbe .o
        add al, 7
.o:     mov ah, 0x07
        stosw
        loop .d
        mov al, 0x20
        out 0x20, al
        popad
        iretd

ticks:  dd 0
spins:  dd 0
label:  db "TICKS ", 0
        align 8
gdt:    dq 0, 0x00cf9a000000ffff, 0x00cf92000000ffff, 0x00cffa000000ffff, 0x00cff2000000ffff
        dw 103, tss & 0xffff
        db (tss >> 16) & 0xff, 0x89, 0, 0
gdtr:   dw 47
        dd gdt
idtr:   dw 0x20 * 8 + 7
        dd 0x10000
tss     equ 0x11000
        times 510-($-$$) db 0
        dw 0xaa55
