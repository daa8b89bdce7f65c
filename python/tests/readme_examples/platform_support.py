from atomic_ops import check_platform_support
supported, message = check_platform_support()
print(f"Platform: {message}")
