"""lidtool.ivector"""
