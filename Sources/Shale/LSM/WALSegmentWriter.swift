/// The live WAL segment: appends records, fsyncs, and seals the segment with a footer when
/// it rolls. Used by the commit leader only (one thread at a time); `sync` may also come from
/// the interval syncer.
public final class WALSegmentWriter: @unchecked Sendable {
    public let id: UInt64
    let file: AppendableFile
    let path: String
    /// Guards the file against being closed (by `seal`) while the interval syncer fsyncs it.
    private let fileLock = Lock()
    private var bodyCRC: UInt32 = 0
    private var bodyLength: UInt64 = 0
    private(set) var sealed = false

    /// Creates the segment (it must not exist) and writes its header.
    init(store: ObjectStore, id: UInt64, syncHeader: Bool) throws {
        self.id = id
        path = WALFormat.segmentName(id)
        let created: AppendableFile?
        do {
            created = try store.createAppendable(path)
        } catch let e as ShaleError where e.message.contains("EEXIST") || e.message.contains("already exists") {
            // Segments are created exclusively: only another writer can own this one.
            throw ShaleError.fenced("\(store.location)/\(path) belongs to another writer; reopen to continue")
        }
        guard let f = created else {
            throw ShaleError.notSupported("\(store.location) has no appendable files for the WAL")
        }
        file = f
        let header = FileEnvelope.header(.wal, version: WALFormat.version)
        try header.withUnsafeBytes { try file.append($0) }
        if syncHeader { try file.sync() }
    }

    public var size: Int { file.size }

    func append(_ bytes: UnsafeRawBufferPointer) throws {
        try file.append(bytes)
        bodyCRC = CRC32C.checksum(bytes, extending: bodyCRC)
        bodyLength += UInt64(bytes.count)
    }

    func sync() throws {
        fileLock.lock()
        defer { fileLock.unlock() }
        // A sealed segment was fsynced when it was sealed.
        if sealed { return }
        try file.sync()
    }

    /// Closes a segment that will never be written (its opener lost the manifest race).
    func abandon() throws {
        fileLock.lock()
        defer { fileLock.unlock() }
        sealed = true
        try file.close()
    }

    /// Appends the footer and fsyncs it (whatever the sync policy: recovery relies on every
    /// segment but the newest having its footer). From now on any damage in this segment is
    /// corruption.
    func seal() throws {
        fileLock.lock()
        defer { fileLock.unlock() }
        guard !sealed else { return }
        let footer = FileEnvelope.footer(bodyLength: bodyLength, bodyCRC: bodyCRC)
        try footer.withUnsafeBytes { try file.append($0) }
        try file.sync()
        sealed = true
        try file.close()
    }
}
