"""The clearquote catalogue as xlwings Server custom functions (namespace CQ: =CQ.BLACK(...))."""

from addin.excel.office_js import *  # noqa: F403
