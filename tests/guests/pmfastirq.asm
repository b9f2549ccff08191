; IRQ0 at about 100 kHz in 32-bit protected mode: the PIT's period (10 us) is shorter
; than one turn of the machine's run loop, so every PIT edge falls due while the loop
; still runs.  The handler counts, sends the EOI and returns with IRETD; once it has
; counted 500 IRQs the guest writes "FAST IRQS OK" to the debug port E9h and halts.
; (vmgui used to drop such a deadline as "already past" and arm no timer: the guest then
; never saw a second IRQ.)
; Build: nasm -f bin -o pmfastirq.img pmfastirq.asm
%include "common.inc"
        PM_FLAT_START
        mov eax, irq0                   ; IDT at 10000h: vector 20h only
        mov [0x10000 + 0x20 * 8], ax
        mov word [0x10000 + 0x20 * 8 + 2], 0x08
        mov word [0x10000 + 0x20 * 8 + 4], 0x8e00
        shr eax, 16
        mov [0x10000 + 0x20 * 8 + 6], ax
        lidt [idtr]
        mov al, 0x11                    ; PIC: IRQ0 -> vector 20h, only IRQ0 unmasked
        out 0x20, al
        mov al, 0x20
        out 0x21, al
        mov al, 4
        out 0x21, al
        mov al, 1
        out 0x21, al
        mov al, 0xfe
        out 0x21, al
        mov al, 0x34                    ; PIT channel 0, mode 2, divisor 12
        out 0x43, al
        mov al, 12
        out 0x40, al
        xor al, al
        out 0x40, al
        sti
spin:   cmp dword [count], 500
        jb spin
        cli
        mov esi, done
.say:   lodsb
        test al, al
        jz .stop
        out 0xe9, al
        jmp .say
.stop:  hlt
        jmp .stop

irq0:   inc dword [count]
        push eax
        mov al, 0x20
        out 0x20, al
        pop eax
        iretd

count:  dd 0
done:   db "FAST IRQS OK", 0
        align 8
gdt:    dq 0, 0x00cf9a000000ffff, 0x00cf92000000ffff
gdtr:   dw 23
        dd gdt
idtr:   dw 0x20 * 8 + 7
        dd 0x10000
        times 510-($-$$) db 0
        dw 0xaa55
