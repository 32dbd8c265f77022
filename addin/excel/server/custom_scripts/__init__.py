"""No custom scripts: clearquote exposes functions only."""
