"""lidtool.data"""
