"""The catalog (编目): departments, datasets and fields with national-standard metadata."""
