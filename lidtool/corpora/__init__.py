"""lidtool.corpora"""
