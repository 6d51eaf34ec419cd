"""Thin Lambda handlers: parse, call one domain function, return a plain dict."""
