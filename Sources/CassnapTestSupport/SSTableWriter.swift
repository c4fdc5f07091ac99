import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// Writes the components of one SSTable under their final names, as Cassandra 3+ does (no
/// `tmp-` rename): `Data.db` first, then the index and metadata components, `Digest` and
/// `TOC.txt` last.
struct SSTableWriter {
    var format: SSTableFixture.Format
    var compressed = true
    /// `Data.db` is written in chunks of this size…
    var chunkSize = 1 << 20
    /// …sleeping this long after each one (widens races for watcher tests).
    var delayPerChunkMilliseconds = 0

    /// TOC.txt lists the components; Cassandra's order comes from a hash set, this is one such.
    func tableOfContents() -> String {
        let components = format.components(compressed: compressed)
        var ordered = [
            "Statistics.db", "Summary.db", "Partitions.db", "TOC.txt", "CompressionInfo.db", "CRC.db",
        ]
        ordered += ["Filter.db", "Data.db", "Rows.db", format.digestComponent, "Index.db"]
        return ordered.filter(components.contains).joined(separator: "\n") + "\n"
    }

    /// Plausible sizes of the other components for a `Data.db` of `dataSize` bytes.
    func componentSizes(dataSize: Int, rng: inout SeededGenerator) -> [String: Int] {
        let partitions = max(1, dataSize / Int.random(in: 200...2000, using: &rng))
        return [
            "Index.db": max(16, partitions * Int.random(in: 12...40, using: &rng)),
            "Summary.db": 56 + max(8, (partitions / 128) * Int.random(in: 12...40, using: &rng)),
            "Partitions.db": max(16, partitions * Int.random(in: 6...20, using: &rng)),
            "Rows.db": max(8, partitions * Int.random(in: 0...8, using: &rng)),
            "Filter.db": 16 + max(8, partitions * 10 / 8),
            "Statistics.db": Int.random(in: 4500...6500, using: &rng),
            "CompressionInfo.db": 43 + 8 * (1 + dataSize / 65536),
            "CRC.db": 4 * (1 + dataSize / 65536),
        ]
    }

    func write(
        directory: URL, prefix: String, dataSize: Int, rng: inout SeededGenerator
    ) throws -> [SSTableFileFixture] {
        let dir = directory.path
        var files: [SSTableFileFixture] = []
        func record(_ component: String, _ size: Int) {
            let name = prefix + component
            files.append(
                SSTableFileFixture(
                    name: name, component: component, url: directory.appendingPathComponent(name), size: size)
            )
        }
        let bufferSize = min(max(dataSize, 1), chunkSize)
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: bufferSize, alignment: 8)
        defer { buffer.deallocate() }

        // Data.db, with its digest computed on the way.
        var crc = CRC32()
        var sha1 = format.digestComponent == "Digest.sha1" ? SHA1() : nil
        let dataPath = dir + "/" + prefix + "Data.db"
        let fd = try FS.open(dataPath, O_WRONLY | O_CREAT | O_TRUNC)
        do {
            var left = dataSize
            while left > 0 {
                let chunk = UnsafeMutableRawBufferPointer(rebasing: buffer[0..<min(left, bufferSize)])
                rng.fill(chunk)
                let bytes = UnsafeRawBufferPointer(chunk)
                if sha1 != nil { sha1!.update(bytes) } else { crc.update(bytes) }
                try FS.write(fd: fd, bytes, path: dataPath)
                left -= chunk.count
                FS.sleep(milliseconds: delayPerChunkMilliseconds)
            }
        } catch {
            close(fd)
            throw error
        }
        close(fd)
        record("Data.db", dataSize)

        let sizes = componentSizes(dataSize: dataSize, rng: &rng)
        for component in format.components(compressed: compressed) {
            let path = dir + "/" + prefix + component
            switch component {
            case "Data.db":
                continue
            case "TOC.txt":
                let toc = tableOfContents()
                try FS.writeFile(path, toc)
                record(component, toc.utf8.count)
            case "Digest.crc32":
                let digest = String(crc.value)
                try FS.writeFile(path, digest)
                record(component, digest.utf8.count)
            case "Digest.sha1":
                let digest = "\(sha1!.finalize())  \(prefix)Data.db"
                try FS.writeFile(path, digest)
                record(component, digest.utf8.count)
            default:
                let size = sizes[component] ?? 64
                let bytes = UnsafeMutableRawBufferPointer.allocate(byteCount: size, alignment: 8)
                defer { bytes.deallocate() }
                rng.fill(bytes)
                try FS.writeFile(path, UnsafeRawBufferPointer(bytes))
                record(component, size)
            }
        }
        return files
    }
}
