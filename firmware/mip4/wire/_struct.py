"""struct shim: MicroPython names it ustruct, CPython struct."""
try:
    from ustruct import pack, pack_into, unpack_from  # noqa: F401
except ImportError:
    from struct import pack, pack_into, unpack_from  # noqa: F401
