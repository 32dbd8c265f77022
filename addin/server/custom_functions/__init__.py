"""The clearquote catalogue as xlwings Server custom functions (namespace CQ: =CQ.BLACK(...))."""

from addin.xl_server import *  # noqa: F403
