"""clearquote's authentication providers for xlwings Server (found before xlwings Server's own)."""
