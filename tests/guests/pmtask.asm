; A protected-mode guest whose IDT has a task gate for int 40h (hardware task switching,
; which vmgui does not emulate): `int 40h` must stop the VM with a report that names the
; task gate and shows CS:EIP, the linear address and the 32-bit code there.
        bits 16
        org 0x7c00
        cli
        xor ax, ax
        mov ds, ax
        mov ss, ax
        mov sp, 0x7c00
        lgdt [gdtr]
        mov eax, cr0
        or al, 1
        mov cr0, eax
        jmp 0x08:pm
        bits 32
pm:     mov ax, 0x10
        mov ds, ax
        mov ss, ax
        mov esp, 0x90000
        mov dword [idt + 0x40 * 8], 0x00180000       ; task gate: TSS selector 18h
        mov dword [idt + 0x40 * 8 + 4], 0x00008500   ; present, DPL 0, type 5
        lidt [idtr]
        mov eax, 0x7A5C6A7E
        int 0x40
        jmp $
gdt:    dq 0, 0x00cf9a000000ffff, 0x00cf92000000ffff
gdtr:   dw 23
        dd gdt
idtr:   dw 0x40 * 8 + 7
        dd idt
idt     equ 0x1000
        times 510-($-$$) db 0
        dw 0xaa55
