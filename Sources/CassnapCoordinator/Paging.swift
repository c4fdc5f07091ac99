import CassnapAPI
import Foundation
import Hummingbird

/// Keyset pagination. A page request names the key of the last item already seen (`after`) and
/// a size; the catalog answers the following items in the list's order and the key of the last
/// one when more follow. Each page costs O(page): the SQL seeks to `after` in an index that
/// holds the list's order, never counts or skips rows.
package struct PageRequest<Key: Sendable & Hashable>: Sendable, Hashable {
    package var after: Key?
    package var limit: Int

    package init(after: Key? = nil, limit: Int) {
        self.after = after
        self.limit = limit
    }
}

/// What the catalog answers for one page: the items and, when more follow, the key to continue after.
package struct CatalogPage<Item: Sendable, Key: Sendable>: Sendable {
    package var items: [Item]
    package var next: Key?

    package init(items: [Item], next: Key?) {
        self.items = items
        self.next = next
    }
}

/// A key that round-trips through an opaque cursor as a list of strings.
package protocol PageKey: Sendable, Hashable {
    var fields: [String] { get }
    /// Nil when the fields cannot be a key of this list.
    init?(fields: [String])
}

/// `snapshot sstables` order: node, keyspace, table, index, SSTable (the columns as stored;
/// `index` is "" for a table's own SSTables).
package struct SSTableKey: PageKey {
    package var host: String
    package var keyspace: String
    package var table: String
    package var index: String
    package var sstable: String

    package init(host: String, keyspace: String, table: String, index: String, sstable: String) {
        self.host = host
        self.keyspace = keyspace
        self.table = table
        self.index = index
        self.sstable = sstable
    }

    package var fields: [String] { [host, keyspace, table, index, sstable] }

    package init?(fields: [String]) {
        guard fields.count == 5 else { return nil }
        self.init(
            host: fields[0], keyspace: fields[1], table: fields[2], index: fields[3], sstable: fields[4])
    }
}

/// `snapshot list` order: requested instant (seconds since 1970 as stored), then tag.
package struct SnapshotListKey: PageKey {
    package var requestedAt: Double
    package var tag: String

    package init(requestedAt: Double, tag: String) {
        self.requestedAt = requestedAt
        self.tag = tag
    }

    package var fields: [String] { [String(requestedAt), tag] }

    package init?(fields: [String]) {
        guard fields.count == 2, let at = Double(fields[0]), at.isFinite else { return nil }
        self.init(requestedAt: at, tag: fields[1])
    }
}

/// Live SSTables order: keyspace, table, SSTable.
package struct LiveSSTableKey: PageKey {
    package var keyspace: String
    package var table: String
    package var sstable: String

    package init(keyspace: String, table: String, sstable: String) {
        self.keyspace = keyspace
        self.table = table
        self.sstable = sstable
    }

    package var fields: [String] { [keyspace, table, sstable] }

    package init?(fields: [String]) {
        guard fields.count == 3 else { return nil }
        self.init(keyspace: fields[0], table: fields[1], sstable: fields[2])
    }
}

/// The opaque `after` cursor: base64url (no padding) of a JSON array of strings. Clients never
/// look inside; the coordinator checks that it decodes to a key of the right list.
package enum PageCursor {
    package static func encode(_ key: some PageKey) -> String {
        let data = (try? JSONEncoder().encode(key.fields)) ?? Data()
        return data.base64EncodedString()
            .replacingOccurrences(of: "+", with: "-")
            .replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    package static func decode<Key: PageKey>(_ text: String, as: Key.Type) -> Key? {
        guard !text.isEmpty, text.count <= 4096,
            text.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_") })
        else { return nil }
        var base64 = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        base64 += String(repeating: "=", count: (4 - base64.count % 4) % 4)
        guard let data = Data(base64Encoded: base64),
            let fields = try? JSONDecoder().decode([String].self, from: data)
        else { return nil }
        return Key(fields: fields)
    }
}

extension Request {
    /// `?limit=` and `?after=` of a paged endpoint; a bad value is a 400 naming `limit` or `after`.
    func pageRequest<Key: PageKey>(_ limits: AdminAPI.PageLimit, key: Key.Type) throws -> PageRequest<Key> {
        let query = uri.queryParameters
        var limit = limits.defaultValue
        if let text = query["limit"].map(String.init) {
            guard let value = Int(text), (1...limits.maximum).contains(value) else {
                throw APIError.invalidField(
                    "limit", "\(text.debugDescription) is not a page size from 1 to \(limits.maximum)")
            }
            limit = value
        }
        var after: Key?
        if let text = query["after"].map(String.init) {
            guard let key = PageCursor.decode(text, as: Key.self) else {
                throw APIError.invalidField(
                    "after",
                    "\(text.debugDescription) is not a cursor of this list; pass the `next` of a page")
            }
            after = key
        }
        return PageRequest(after: after, limit: limit)
    }
}

extension CatalogPage where Item: Codable & Hashable, Key: PageKey {
    /// The page as the API answers it.
    var reply: AdminAPI.Page<Item> { AdminAPI.Page(items: items, next: next.map(PageCursor.encode)) }
}
