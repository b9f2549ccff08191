; Virtual-8086 mode and 16-bit gates, reported on port E9h:
;   "GATE16 OK"   int 41h through a 16-bit interrupt gate into a 16-bit code segment:
;                 a 6-byte frame (IP, CS, FLAGS) and a 16-bit IRET back
;   "V86 INT OK"  int 40h from virtual-8086 mode (IOPL 3) reaches the ring 0 handler with
;                 the V86 frame (ES, DS, FS, GS pushed, VM set in the pushed EFLAGS) and
;                 data segments nulled; IRETD goes back to V86 mode
;   "V86 IRQ OK"  IRQ0 three times while in V86 mode (the same frame, the V86 ES in it),
;                 back with IRETD each time; then the V86 code reports by int 40h, AL=1
%include "common.inc"
        PM_FLAT_START
        mov dword [tss + 4], 0x80000
        mov dword [tss + 8], 0x10
        mov ax, 0x28
        ltr ax
        mov eax, v86int                 ; 40h: DPL 3 32-bit interrupt gate
        mov ebx, 0x40
        mov edx, 0x0008ee00
        call gate
        mov eax, irq0                   ; 20h: IRQ0
        mov ebx, 0x20
        mov edx, 0x00088e00
        call gate
        mov eax, h16                    ; 41h: 16-bit interrupt gate to selector 30h
        mov ebx, 0x41
        mov edx, 0x00308600
        call gate
        lidt [idtr]
        mov al, 0x11
        out 0x20, al
        mov al, 0x20
        out 0x21, al
        mov al, 4
        out 0x21, al
        mov al, 1
        out 0x21, al
        mov al, 0xff                    ; IRQ0 masked until V86 runs
        out 0x21, al
        int 0x41
        cmp word [seen16], 0x1234
        jne fail
        mov esi, ok16
        call print
        mov al, 0xfe
        out 0x21, al
        xor eax, eax
        push eax                        ; GS
        push eax                        ; FS
        push eax                        ; DS
        push eax                        ; ES
        push eax                        ; SS
        push dword 0x6000               ; SP
        push dword 0x23202              ; EFLAGS: VM, IOPL 3, IF
        push dword 0                    ; CS
        push dword v86                  ; IP
        iretd

v86int: mov ebx, [esp + 8]              ; EFLAGS pushed: VM, IOPL 3, IF (and the
        and ebx, 0x23200                ; arithmetic flags of the moment)
        cmp ebx, 0x23200
        jne fail
        mov bx, ds
        test bx, bx                     ; data segments null in the handler
        mov bx, 0x10
        mov ds, bx
        jnz fail
        cmp al, 1
        je .done
        mov esi, okint
        call print
        iretd                           ; ES/DS/FS/GS popped: back to V86
.done:  mov esi, done
        call print
        jmp halt

irq0:   push eax
        mov ax, 0x10
        mov ds, ax
        test dword [esp + 12], 0x20000  ; interrupted in V86 mode?
        jz .eoi
        cmp word [esp + 24], 0x42       ; V86 ES pushed: the one the V86 code set
        jne fail
        inc dword [ticks]
.eoi:   mov al, 0x20
        out 0x20, al
        pop eax
        iretd

gate:   lea edi, [idt + ebx * 8]
        mov [edi], ax
        shr eax, 16
        mov [edi + 6], ax
        mov eax, edx
        shr eax, 16
        mov [edi + 2], ax
        mov [edi + 4], dx
        ret
print:  lodsb
        test al, al
        jz .r
        out 0xe9, al
        jmp print
.r:     ret
fail:   mov esi, failed
        call print
halt:   cli
        hlt
        jmp halt

        bits 16
h16:    mov word [seen16], 0x1234       ; 16-bit code, flat data through DS
        iret
v86:    mov ax, 0x42                    ; virtual-8086 mode: real-mode segments
        mov es, ax
        int 0x40
.spin:  cmp dword [ticks], 3            ; IRQ0 three times while here
        jb .spin
        mov al, 1                       ; say so from ring 0 (no BIOS here)
        int 0x40
        bits 32

seen16: dw 0
ticks:  dd 0
ok16:   db "GATE16 OK", 10, 0
okint:  db "V86 INT OK", 10, 0
done:   db "V86 IRQ OK", 10, 0
failed: db "FAIL", 10, 0
        align 8
gdt:    dq 0, 0x00cf9a000000ffff, 0x00cf92000000ffff, 0x00cffa000000ffff, 0x00cff2000000ffff
        dw 103, tss & 0xffff
        db (tss >> 16) & 0xff, 0x89, 0, 0
        dq 0x00009a000000ffff           ; 30h: 16-bit code, base 0
gdtr:   dw 55
        dd gdt
idtr:   dw 0x41 * 8 + 7
        dd idt
idt     equ 0x10000
tss     equ 0x11000
        times 510-($-$$) db 0
        dw 0xaa55
