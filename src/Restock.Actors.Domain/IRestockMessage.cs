namespace Restock.Actors.Domain;

/// <summary>
/// Marks every record that is stored or sent between nodes. The engine binds one serializer to it,
/// with a stable manifest per type, so stored events outlive class renames.
/// </summary>
public interface IRestockMessage;
