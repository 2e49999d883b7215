local json = require("qtui.json")
local text = require("qtui.txt")
local helper = require("lib.helper")
local queues = require "qtui.queue"
