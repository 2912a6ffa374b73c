import Shale

// Placeholder until the crash writer is written.
print("usage: shale-crash-writer DIR")
