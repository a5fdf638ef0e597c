"""lidtool.jobs"""
