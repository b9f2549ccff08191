; Protected-mode interrupt and exception delivery, one case after another.  The boot
; sector loads the rest (8 sectors) to 8000h and enters 32-bit protected mode with its
; own GDT, IDT, TSS and page tables; every result goes to the debug port E9h as a line:
;   T1 int 30h from ring 0 ................ "INT30 CPL0 OK"
;   T2 #GP with a selector error code ...... "GP 00001234"
;   T3 #PF, not present, read and write .... "PF 00000000 00300123", "PF 00000002 00301ABC", "PF FIXED 5A"
;   T4 IRQ0 while in ring 3: stack switch from the TSS, IRETD back to ring 3, three
;      times; then int 31h (DPL 3 gate) from ring 3 ... "RING3 IRQS 03 SS 0023 OK"
;   T5 #GP whose gate is not present -> #NP -> #DF (error code 0) ... "DF 00000000"
;   T6 an IDT with limit 0 and UD2: #UD -> #GP -> #DF -> triple fault: the machine resets;
;      the second boot finds CMOS byte 38h set and says "AFTER TRIPLE FAULT" (and clears it).
; Build: nasm -f bin -o pmint.img pmint.asm
        bits 16
        org 0x7c00
        cli
        xor ax, ax
        mov ds, ax
        mov es, ax
        mov ss, ax
        mov sp, 0x7c00
        mov al, 0x38                    ; second boot after the triple fault?
        out 0x70, al
        in al, 0x71
        cmp al, 0xA5
        jne .load
        mov al, 0x38
        out 0x70, al
        xor al, al
        out 0x71, al
        mov si, rebooted
.say:   lodsb
        test al, al
        jz .stop
        out 0xe9, al
        jmp .say
.stop:  cli
        hlt
        jmp .stop
.load:  mov ax, 0x0208                  ; read 8 sectors
        mov cx, 0x0002                  ; cylinder 0, sector 2
        xor dh, dh                      ; head 0 (DL: boot drive from the BIOS)
        mov bx, 0x8000
        int 0x13
        jc .stop
        jmp 0:0x8000
rebooted: db "AFTER TRIPLE FAULT", 10, 0
        times 510-($-$$) db 0
        dw 0xaa55

; ------------------------------------------------------------------ stage 2 at 8000h
        section stage2 follows=.text vstart=0x8000
IDT     equ 0x10000
TSS     equ 0x11000
PDIR    equ 0x20000
PTAB    equ 0x21000
STACK0  equ 0x90000                     ; ring 0 stack of the test driver
ESP0    equ 0x80000                     ; ring 0 stack the TSS gives interrupts from ring 3
STACK3  equ 0x60000                     ; ring 3 stack

stage2: cli
        lgdt [gdtr]
        mov eax, cr0
        or al, 1
        mov cr0, eax
        jmp 0x08:pm

        bits 32
pm:     mov ax, 0x10
        mov ds, ax
        mov es, ax
        mov fs, ax
        mov gs, ax
        mov ss, ax
        mov esp, STACK0
        ; PICs: master at 20h, slave at 28h, only IRQ0 unmasked
        mov al, 0x11
        out 0x20, al
        out 0xa0, al
        mov al, 0x20
        out 0x21, al
        mov al, 0x28
        out 0xa1, al
        mov al, 4
        out 0x21, al
        mov al, 2
        out 0xa1, al
        mov al, 1
        out 0x21, al
        out 0xa1, al
        mov al, 0xfe
        out 0x21, al
        mov al, 0xff
        out 0xa1, al
        ; IDT: every vector to `unexpected`, then the ones the tests use
        mov edi, IDT
        mov ecx, 256
.fill:  mov eax, unexpected
        call gate_at
        add edi, 8
        loop .fill
        mov eax, int30
        mov ebx, 0x30
        mov dx, 0x8e00                  ; present, DPL 0, 32-bit interrupt gate
        call set_gate
        mov eax, int31
        mov ebx, 0x31
        mov dx, 0xee00                  ; DPL 3: callable from ring 3
        call set_gate
        mov eax, gp
        mov ebx, 13
        mov dx, 0x8e00
        call set_gate
        mov eax, pf
        mov ebx, 14
        mov dx, 0x8e00
        call set_gate
        mov eax, df
        mov ebx, 8
        mov dx, 0x8e00
        call set_gate
        mov eax, irq0
        mov ebx, 0x20
        mov dx, 0x8e00
        call set_gate
        lidt [idtr]
        ; TSS: SS0:ESP0 for interrupts from ring 3
        mov dword [TSS + 4], ESP0
        mov dword [TSS + 8], 0x10
        mov ax, 0x28
        ltr ax

; T1: int 30h from ring 0
        mov byte [seen], 0
        int 0x30
        cmp byte [seen], 1
        jne fail
        mov esi, t1
        call print

; T2: #GP with a selector error code; the handler skips the 2-byte MOV
        mov ax, 0x1234
        mov es, ax
        mov ax, 0x10
        mov es, ax

; T3: paging with 300000h-301FFFh not present; the handler maps each page and returns
        mov edi, PTAB
        mov eax, 0x3                    ; present, writable, supervisor
        mov ecx, 1024
.pt:    mov [edi], eax
        add eax, 0x1000
        add edi, 4
        loop .pt
        and dword [PTAB + 0x300 * 4], ~1
        and dword [PTAB + 0x301 * 4], ~1
        mov edi, PDIR
        mov ecx, 1024
        xor eax, eax
        rep stosd
        mov dword [PDIR], PTAB + 0x7    ; user may use it: ring 3 runs in here too
        or dword [PTAB + 0x60 * 4 - 4], 4  ; the ring 3 stack's page (5F000h) is a user page
        mov esi, PTAB + 0x8 * 4         ; and the test code's pages (8000h-9FFFh)
        or dword [esi], 4
        or dword [esi + 4], 4
        mov eax, PDIR
        mov cr3, eax
        mov eax, cr0
        or eax, 0x80000000
        mov cr0, eax
        mov al, [0x300123]              ; #PF 0 (not present, read, supervisor)
        mov byte [0x301abc], 0x5a       ; #PF 2 (not present, write, supervisor)
        mov al, [0x301abc]
        mov [pfval], al
        mov esi, t3
        call print
        movzx eax, byte [pfval]
        call hex8
        call newline

; T4: ring 3 with IRQ0 unmasked; the IRQ handler checks where it came from
        mov dword [ticks], 0
        push dword 0x23                 ; SS (DPL 3 data)
        push dword STACK3
        pushfd
        or dword [esp], 0x200           ; IF=1 in ring 3
        push dword 0x1b                 ; CS (DPL 3 code)
        push dword user
        iretd
user:   inc dword [spins]               ; ring 3: spin until three ticks were seen there
        cmp dword [ticks], 3
        jb user
        int 0x31                        ; back to ring 0 (does not return)

after3: mov esp, STACK0
        cli
        mov esi, t4
        call print
        mov eax, [ticks]
        call hex8
        mov esi, t4ss
        call print
        mov eax, [userss]
        call hex16
        mov esi, ok
        call print

; T5: the #GP gate not present: a #GP becomes #NP, and the two make a double fault
        and byte [IDT + 13 * 8 + 5], 0x7f
        mov ax, 0x4321
        mov es, ax                      ; #GP -> #NP -> #DF: df prints and goes on to T6
        jmp fail

; T6: an empty IDT: #UD cannot be delivered, nor #GP, nor #DF: triple fault -> reset
t6:     mov esp, STACK0
        mov al, 0x38
        out 0x70, al
        mov al, 0xA5
        out 0x71, al
        lidt [empty_idtr]
        ud2
        mov esi, nore
        call print
        jmp halt

fail:   mov esi, failed
        call print
halt:   cli
        hlt
        jmp halt

; ------------------------------------------------------------------ handlers
int30:  mov byte [seen], 1
        mov ax, cs
        and al, 3
        jnz fail
        iretd

int31:  jmp after3                      ; from ring 3: the frame is dropped

gp:     pop eax                         ; error code
        cmp eax, 0x4321
        je fail                         ; T5 must not get here
        push eax
        mov esi, t2
        call print
        pop eax
        call hex32
        call newline
        add dword [esp], 2              ; skip the faulting MOV ES, AX
        iretd

pf:     push eax
        push esi
        mov esi, t3pf
        call print
        mov eax, [esp + 8]              ; error code
        call hex32
        mov al, ' '
        out 0xe9, al
        mov eax, cr2
        call hex32
        call newline
        mov eax, cr2                    ; map the page and retry
        shr eax, 12
        or dword [PTAB + eax * 4], 1
        invlpg [0x300000]
        invlpg [0x301000]
        pop esi
        pop eax
        add esp, 4                      ; drop the error code
        iretd

df:     mov esi, t5
        call print
        pop eax                         ; error code: 0
        call hex32
        call newline
        jmp t6

irq0:   push eax
        mov eax, [esp + 8]              ; interrupted CS
        and eax, 3
        cmp eax, 3
        jne .eoi                        ; a tick in ring 0 (before T4) does not count
        mov eax, [esp + 20]             ; interrupted SS (ring change: SS and ESP pushed)
        mov [userss], eax
        cmp esp, ESP0 - 24              ; on the TSS's stack: 5 dwords + EAX pushed
        jne fail
        inc dword [ticks]
.eoi:   mov al, 0x20
        out 0x20, al
        pop eax
        iretd

unexpected:
        mov esi, unexp
        call print
        jmp halt

; ------------------------------------------------------------------ helpers
set_gate:                               ; EAX handler, EBX vector, DX type word
        lea edi, [IDT + ebx * 8]
        call gate_at
        mov [edi + 4], dx
        ret
gate_at:                                ; EAX handler at EDI (interrupt gate, DPL 0)
        mov [edi], ax
        mov word [edi + 2], 0x08
        mov word [edi + 4], 0x8e00
        shr eax, 16
        mov [edi + 6], ax
        ret
print:  lodsb
        test al, al
        jz .done
        out 0xe9, al
        jmp print
.done:  ret
newline:
        mov al, 10
        out 0xe9, al
        ret
hex32:  push eax
        shr eax, 16
        call hex16
        pop eax
hex16:  push eax
        shr eax, 8
        call hex8
        pop eax
hex8:   push eax
        shr al, 4
        call .nib
        pop eax
.nib:   and al, 0x0f
        add al, '0'
        cmp al, '9'
        jbe .out
        add al, 7
.out:   out 0xe9, al
        ret

; ------------------------------------------------------------------ data
        align 8
gdt:    dq 0
        dq 0x00cf9a000000ffff           ; 08h: ring 0 code, flat 32-bit
        dq 0x00cf92000000ffff           ; 10h: ring 0 data
        dq 0x00cffa000000ffff           ; 18h: ring 3 code
        dq 0x00cff2000000ffff           ; 20h: ring 3 data
        dw 103, TSS & 0xffff            ; 28h: 32-bit TSS, available
        db (TSS >> 16) & 0xff, 0x89, 0, (TSS >> 24) & 0xff
gdt_end:
gdtr:   dw gdt_end - gdt - 1
        dd gdt
idtr:   dw 256 * 8 - 1
        dd IDT
empty_idtr:
        dw 0
        dd 0
seen:   db 0
pfval:  db 0
ticks:  dd 0
spins:  dd 0
userss: dd 0
t1:     db "INT30 CPL0 OK", 10, 0
t2:     db "GP ", 0
t3pf:   db "PF ", 0
t3:     db "PF FIXED ", 0
t4:     db "RING3 IRQS ", 0
t4ss:   db " SS ", 0
ok:     db " OK", 10, 0
t5:     db "DF ", 0
nore:   db "NO RESET", 10, 0
failed: db "FAIL", 10, 0
unexp:  db "UNEXPECTED", 10, 0
        times 8 * 512 - ($-$$) db 0
