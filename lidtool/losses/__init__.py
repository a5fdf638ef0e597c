"""lidtool.losses"""
