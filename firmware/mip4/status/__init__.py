"""The one status model (what mip4d, ubus, LuCI, `mip4 status` and the console all show) and its methods."""
