"""lidtool.features"""
