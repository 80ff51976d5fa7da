"""The Sans-IO protocol core: mobile node, foreign agent, home agent and RFC 5265 detection.

Every machine takes events and the current time (`now`, Unix seconds) and returns a list of
actions (`mip4.core.actions`); none opens a socket, sleeps or reads a clock. Adapters call
`get_timer()` and, when that time comes, `handle_timer(now)` (the aioquic model).
"""
