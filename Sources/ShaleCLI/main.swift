import Shale

print("shale: not yet")
