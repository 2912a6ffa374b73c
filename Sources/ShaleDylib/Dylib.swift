// Link-only target: libshale.so is this target plus everything ShaleC pulls in.
@_exported import ShaleC
