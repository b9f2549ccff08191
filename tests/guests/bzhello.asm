; A tiny bzImage for the direct-boot loader (vmgui.bios.linuxboot): a legacy boot sector
; holding the setup header, one more setup sector of real-mode code (setup_sects = 1),
; and one sector of "protected-mode kernel" that starts with "PMOK" (loaded at 1 MB).
; Started at seg+20h:0 as the boot protocol says, the setup code reports on the screen
; and COM1 what the boot loader handed it, then halts with interrupts off:
;   "segs CS DS ES FS GS SS SP FLAGS"          (hex words, as found at entry)
;   "hdr LOADER LOADFLAGS HEAP_END_PTR VID_MODE RAMDISK_IMAGE RAMDISK_SIZE"
;   "cmdline=<the command line at cmd_line_ptr>"
;   "kernel=<the first 4 bytes at 1 MB>"
; Header layout: Linux Documentation/arch/x86/boot.rst.
%include "common.inc"
        bits 16
        org 0
        times 0x1F1-($-$$) db 0
setup_sects:    db 1
root_flags:     dw 0
syssize:        dd 512 / 16             ; the protected-mode part, in paragraphs
ram_size:       dw 0
vid_mode:       dw 0x1234               ; a loader writes FFFFh ("normal")
root_dev:       dw 0
boot_flag:      dw 0xAA55
jump:           jmp short start         ; 200h: the entry point (seg+20h:0)
header:         db "HdrS"
version:        dw 0x020F
realmode_swtch: dd 0
start_sys_seg:  dw 0x1000
kernel_version: dw 0
type_of_loader: db 0
loadflags:      db 0x01                 ; LOADED_HIGH: a bzImage
setup_move_size: dw 0x8000
code32_start:   dd 0x100000
ramdisk_image:  dd 0
ramdisk_size:   dd 0
bootsect_kludge: dd 0
heap_end_ptr:   dw 0
ext_loader_ver: db 0
ext_loader_type: db 0
cmd_line_ptr:   dd 0
initrd_addr_max: dd 0x7FFFFFFF
kernel_alignment: dd 0x1000
relocatable_kernel: db 0
min_alignment:  db 12
xloadflags:     dw 0
cmdline_size:   dd 255
hardware_subarch: dd 0
hardware_subarch_data: dq 0
payload_offset: dd 0
payload_length: dd 0
setup_data:     dq 0
pref_address:   dq 0x100000
init_size:      dd 0x1000
handover_offset: dd 0

start:  mov [entry_sp], sp              ; DS is the real-mode segment (the loader's job)
        pushf
        pop word [entry_flags]
        mov [entry_ss], ss
        mov [entry_ds], ds
        mov [entry_es], es
        mov [entry_fs], fs
        mov [entry_gs], gs
        mov [entry_cs], cs
        mov si, segs_msg
        call print_si
        mov si, entry_cs
        mov cx, 8
.regs:  lodsw
        call space_hex16
        loop .regs
        mov si, hdr_msg
        call print_si
        mov al, [type_of_loader]
        call space_hex8
        mov al, [loadflags]
        call space_hex8
        mov ax, [heap_end_ptr]
        call space_hex16
        mov ax, [vid_mode]
        call space_hex16
        mov eax, [ramdisk_image]
        call space_hex32
        mov eax, [ramdisk_size]
        call space_hex32
        mov si, cmdline_msg
        call print_si
        mov eax, [cmd_line_ptr]         ; linear -> segment:offset
        mov di, ax
        and di, 0x0F
        shr eax, 4
        mov es, ax
.cmd:   mov al, [es:di]
        test al, al
        jz .kernel
        call putc
        inc di
        jmp .cmd
.kernel:
        mov si, kernel_msg
        call print_si
        mov ax, 0xFFFF                  ; FFFF:0010 = 1 MB (A20 is open)
        mov es, ax
        mov di, 0x10
        mov cx, 4
.kbyte: mov al, [es:di]
        call putc
        inc di
        loop .kbyte
        mov si, end_msg
        call print_si
.halt:  hlt
        jmp .halt

space_hex32:
        push eax
        shr eax, 16
        call space_hex16
        pop eax
        jmp hex16
space_hex16:
        push ax
        mov al, ' '
        call putc
        pop ax
hex16:  push ax
        mov al, ah
        call hex8
        pop ax
        jmp hex8
space_hex8:
        push ax
        mov al, ' '
        call putc
        pop ax
        jmp hex8

        HEX_HELPERS
        PRINT_HELPERS

segs_msg:    db "segs", 0
hdr_msg:     db 13, 10, "hdr", 0
cmdline_msg: db 13, 10, "cmdline=", 0
kernel_msg:  db 13, 10, "kernel=", 0
end_msg:     db 13, 10, "done", 13, 10, 0
entry_cs:    dw 0
entry_ds:    dw 0
entry_es:    dw 0
entry_fs:    dw 0
entry_gs:    dw 0
entry_ss:    dw 0
entry_sp:    dw 0
entry_flags: dw 0
        times 1024-($-$$) db 0          ; boot sector + 1 setup sector
protected:
        db "PMOK"
        times 1536-($-$$) db 0xF4       ; 512 bytes of "kernel"
