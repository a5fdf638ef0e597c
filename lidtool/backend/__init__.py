"""lidtool.backend"""
