"""`mip4 console`: a small CLI on a serial line (editor.py: line editing; commands.py: what it runs)."""
