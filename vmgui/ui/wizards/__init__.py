"""Wizards: the New-VM wizard (:class:`NewVmWizard`)."""

from vmgui.ui.wizards.new_vm import NewVmWizard

__all__ = ["NewVmWizard"]
