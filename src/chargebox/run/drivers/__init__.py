"""The reference drivers of ``chargebox run``: each implements a port of ``chargebox.hal`` for a real part."""
