import CassnapCoordinator

/// Thin executable: parsing and work live in CassnapCoordinator.
@main
enum CoordinatorMain {
    static func main() async {
        await CoordinatorCommand.main()
    }
}
