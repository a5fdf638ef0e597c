"""lidtool.asr"""
