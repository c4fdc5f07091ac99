/// Every item of a paged listing, page by page from the first: `fetch` is given the cursor of
/// the page to read (nil for the first) and answers its items and the next cursor (nil after
/// the last). The one walk for the coordinator's client and its catalog.
package func allPages<Item, Cursor>(_ fetch: (Cursor?) async throws -> (items: [Item], next: Cursor?))
    async throws -> [Item]
{
    var items: [Item] = []
    var after: Cursor?
    repeat {
        let page = try await fetch(after)
        items += page.items
        after = page.next
    } while after != nil
    return items
}
