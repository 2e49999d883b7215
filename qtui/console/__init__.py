"""The interactive console: urwid on trio."""
