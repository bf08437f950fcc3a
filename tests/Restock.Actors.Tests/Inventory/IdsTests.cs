using Restock.Actors.Domain;

namespace Restock.Actors.Tests.Inventory;

/// <summary>The one id rule, as every caller meets it (URLs, bodies, commands).</summary>
public sealed class IdsTests
{
    [Theory]
    [InlineData("sku-1")]
    [InlineData("ORDER_2026.11:27")]
    [InlineData("a")]
    [InlineData("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ-_.:")]
    public void Ids_of_ascii_letters_digits_and_the_four_marks_are_valid(string id) => Assert.True(Ids.IsValid(id));

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("sku 1")]
    [InlineData("sku/1")]
    [InlineData("café")]
    [InlineData("sku\u0661")] // an Arabic-Indic digit: a digit, but not ASCII
    [InlineData("sku\u00001")]
    [InlineData("订单")]
    public void Anything_else_is_refused(string? id) => Assert.False(Ids.IsValid(id));

    [Fact]
    public void An_id_may_be_128_characters_long_and_no_longer()
    {
        Assert.True(Ids.IsValid(new string('a', Ids.MaxLength)));
        Assert.False(Ids.IsValid(new string('a', Ids.MaxLength + 1)));
    }
}
