local x = {
  a = ,
}
