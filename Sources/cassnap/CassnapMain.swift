import CassnapCLI

/// Thin executable: parsing and work live in CassnapCLI.
@main
enum CassnapMain {
    static func main() async {
        await CassnapCommand.main()
    }
}
