"""The pieces the pictures (`cnncost.plot`, `cnncost.plot_time`) share: figures and legends
(`axes`), tick labels in human units (`ticks`), axis wording (`wording`), the memory parts' order
and colours (`parts`) and label placement (`labels`). Only the pictures import this package (and
`ticks` imports matplotlib): none of it is on the command line's path."""
